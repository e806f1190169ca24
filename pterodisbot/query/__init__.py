"""Players online: the games' own queries (Minecraft Java and Bedrock, Source A2S) (core).

The public face of the package is its values (`_model.py`), which config and every reader
share; the query service itself (`PlayerQueries`) and the protocol clients are their own
modules, so importing the settings never imports the panel client or the query libraries.
"""

from __future__ import annotations

from pterodisbot.query._model import (
    FAILURE_TEXT,
    Answering,
    GameAnswer,
    NoQueries,
    Players,
    PlayerService,
    PlayerSource,
    QueryFailure,
    QueryOverride,
    QueryProtocol,
    QuerySettings,
    QueryStats,
    QueryTarget,
    TargetSource,
)

__all__ = [
    "FAILURE_TEXT",
    "Answering",
    "GameAnswer",
    "NoQueries",
    "PlayerService",
    "PlayerSource",
    "Players",
    "QueryFailure",
    "QueryOverride",
    "QueryProtocol",
    "QuerySettings",
    "QueryStats",
    "QueryTarget",
    "TargetSource",
]
