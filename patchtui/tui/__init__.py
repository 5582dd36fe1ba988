"""The console (Textual). The only package that imports Textual."""
