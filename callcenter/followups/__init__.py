"""The follow-up list (折り返しリスト): callers the desk has not reached yet, the
call-backs agents make to them, and the recall figures (docs/decisions/0013)."""
