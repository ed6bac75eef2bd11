"""Steps from proposal to effect: policy, learned rules and a tick that runs its own step."""
