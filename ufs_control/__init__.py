"""ufs-control: closed-loop controller for an ultrafast-sintering rig."""

__version__ = "0.1.0"
