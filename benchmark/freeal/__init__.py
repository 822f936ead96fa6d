"""FreeAL pieces: LLM annotation with retrieved demos, small-loss clean selection, demo feedback.

Built so far: the building blocks below, each tested on tiny inputs. Not built yet: the
robust small-model training loop (mixup, consistency regularisation) and the round driver.
"""
