"""A Redline config: its pydantic models, the loader that validates a file into them with
``file:line: path.inside: why`` errors, and the OpenSLO/Sloth files it may name.

Importable without the agent's runtime or Streamlit (a test checks it): the agent, the
dashboard and tools all load a config through here.
"""

from redline.config.load import load_config, parse_config
from redline.config.models import (
    AgentSettings,
    AlertingConfig,
    CompactionSettings,
    LoadedConfig,
    LogNotifierConfig,
    NotifierConfig,
    ReceiverConfig,
    RedlineConfig,
    RemoteWriteOutConfig,
    WebhookNotifierConfig,
)
from redline.config.spec_files import FileReport, SpecFile, load_spec_files, read_documents

__all__ = [
    "AgentSettings",
    "AlertingConfig",
    "CompactionSettings",
    "FileReport",
    "LoadedConfig",
    "LogNotifierConfig",
    "NotifierConfig",
    "ReceiverConfig",
    "RedlineConfig",
    "RemoteWriteOutConfig",
    "SpecFile",
    "WebhookNotifierConfig",
    "load_config",
    "load_spec_files",
    "parse_config",
    "read_documents",
]
