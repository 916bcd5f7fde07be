"""Training: the labelled boxes (:mod:`.dataset`), how many steps and of what
(:mod:`.plan`), batches drawn from the boxes (:mod:`.sampler`, pure numpy),
the optimisers (:mod:`.optimisers`), the loop itself (:mod:`.loop`), what it
logs (:mod:`.log`), the model files it writes (:mod:`.checkpoints`), and the
default threshold (:mod:`.threshold`, pure numpy)."""
