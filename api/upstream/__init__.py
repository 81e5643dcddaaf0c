"""The upstream edge: the one AsyncOpenAI client and the translation of its failures."""
