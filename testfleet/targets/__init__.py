"""Which targets a tenant's browser may reach: canonical addresses and the fleet's
target policy, applied by the loader, the executor and the egress proxy alike.
"""
