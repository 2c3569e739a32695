"""Storyboards and previs from a screenplay: parse, break into shots, generate panels, export the board."""
