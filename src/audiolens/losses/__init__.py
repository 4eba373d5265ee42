"""Loss functions (one file per loss; the self-supervised and transcoder issues add theirs)."""
