"""Writes for surveys, by concept: ``builder`` (surveys and questions), ``invitations`` (who is
asked, how, and why not), ``responses`` (answers, rewards, the completion event)."""
