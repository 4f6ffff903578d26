"""Text analysis shared by every step: normalising, the tokeniser/stemmer family, the glossary, patterns."""
