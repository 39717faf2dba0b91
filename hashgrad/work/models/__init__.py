"""Model families other than the original GPT-2 (which stays in work/model.py), one readable file each.

`work.model.build_model(config)` picks the family from the config's type; every part of the work
protocol (training, compression, scoring, aggregation, inference, export) goes through it.
"""
