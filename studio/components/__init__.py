"""The studio's reusable pieces: each module holds a piece's layout and its callbacks."""
