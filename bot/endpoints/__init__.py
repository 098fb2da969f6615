"""The service's HTTP routes, one router per feature; `bot.app` mounts them."""
