"""provisioning: the installer's CLI (gatectl): enrol, test wiring and camera, diagnose."""
