"""`HOOKS_MODULE` of the chaos suite's worker processes: importing it registers the chaos hook on
every hook point that receives additional_data."""

from __future__ import annotations

from activities.hooks import hook
from tests.chaos.hooks import HOOK_POINTS, chaos_hook

for _name in HOOK_POINTS:
    hook(_name)(chaos_hook)
