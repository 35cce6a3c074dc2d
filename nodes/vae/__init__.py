"""VAE / RAVE family."""

from .rave import Rave

NODE_CLASSES = [Rave]
