"""What runs above every app: the sweep, the worker agent, health and metrics, the demo, the supervisor."""
