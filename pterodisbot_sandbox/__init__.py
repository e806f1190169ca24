"""Stand-ins for the outside world (a Pterodactyl panel, Discord) for tests and `make demo`.

A sibling of `pterodisbot`, never part of it: the Docker image installs the bot only. The public
faces are `pterodisbot_sandbox.panel` (`SimulatedPanel`), `pterodisbot_sandbox.discord_server`
(`DiscordSandbox`) and `pterodisbot_sandbox.discord_rules` (Discord's payload rules, pure); the
`_modules` are theirs alone. Of the bot, the sandboxes import `pterodisbot.clock` only.
"""

from __future__ import annotations
