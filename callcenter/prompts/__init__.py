"""The site's own announcements: recordings converted with sox into what Asterisk plays,
and named in the config as ``site:NAME``."""

from callcenter.prompts.importer import PromptError, import_prompt
from callcenter.prompts.settings import PromptsConfig, playable

__all__ = ["PromptError", "PromptsConfig", "import_prompt", "playable"]
