"""One cog per feature of the Discord adapter; each talks to the service only."""

from .admin import AdminCog
from .analyze import AnalyzeCog
from .artists import ArtistsCog
from .compare import CompareCog
from .cypher import CypherCog
from .forget import ForgetCog
from .help import HelpCog
from .practice import PracticeCog

__all__ = [
    "AdminCog",
    "AnalyzeCog",
    "ArtistsCog",
    "CompareCog",
    "CypherCog",
    "ForgetCog",
    "HelpCog",
    "PracticeCog",
]
