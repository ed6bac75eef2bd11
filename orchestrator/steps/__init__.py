"""Steps from proposal to effect: planning, policy and learned or earned rules, governing a
proposal into a step, executing it through its lane, and templates.
"""
