"""The language-model side of Muralist: models, the planner/creator swarm and chat turns."""
