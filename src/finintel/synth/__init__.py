"""``finintel synth``: realistic synthetic transaction data with planted, labelled typologies (known truth)."""
