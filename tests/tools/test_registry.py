"""Tool ids of the registry: one name per tool, short enough to be a function name."""

from muralist.tools.registry import MAX_TOOL_ID, openai_model_tool_id


def test_openai_model_tool_ids_fit_function_name_limits() -> None:
    assert openai_model_tool_id("dall-e-3") == "generate_image_by_dall_e_3_openai"
    long_a = "dall-e-3-hd-" + "x" * 60 + "-a"
    long_b = "dall-e-3-hd-" + "x" * 60 + "-b"
    ids = {openai_model_tool_id(long_a), openai_model_tool_id(long_b)}
    assert len(ids) == 2  # two long names that share a beginning stay two tools
    assert all(len(i) <= MAX_TOOL_ID and i.endswith("_openai") for i in ids)
    assert openai_model_tool_id(long_a) == openai_model_tool_id(long_a)
