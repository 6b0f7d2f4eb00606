"""TimeMoto pointage service: receives signed attendance webhooks and stores them in the ERP."""
