"""The AI model adapter (the official ``openai`` SDK), its prompts and image handling,
and suite generation from plain requirements.
"""
