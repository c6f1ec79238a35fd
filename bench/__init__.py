"""FLOPs Matrix: the same models through each framework version's own FLOPs counters.

Data flows one way: cells (docker/cells.toml) -> images -> probe JSON -> results/ -> report.
"""
