"""Pure domain: protocols, errors, records, thermal model, profiles and rig configuration (stdlib only)."""
