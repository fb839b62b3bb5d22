"""What every layer may use: configuration, logging, identifiers, time."""
