"""A model judge for physician studies: versioned prompts, a local or OpenAI-compatible backend, a
reply cache, and verdicts that the app stores as judgments of a rater of kind `model`."""
