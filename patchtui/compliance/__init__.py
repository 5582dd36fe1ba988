"""Compliance policy and evaluation: pure functions; report renderers.

``policy``   Policy, DEFAULT_POLICY (SSM-strict), load_policy(path), policy_to_dict
``evaluate`` evaluate_host(state, policy, now), evaluate_fleet(states, policy, now)
``report``   render(report, fmt) for FORMATS, write_atomically(path, text)
"""
