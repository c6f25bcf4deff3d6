from muralist.cli import main

main()
