"""A bundled TimeMoto: builds, signs and delivers `attendance.inserted` webhooks."""
