"""From a micrograph to network inputs (pure numpy/scipy, no TensorFlow): the
CTF (:mod:`.ctf`), whole-micrograph preprocessing (:mod:`.preprocess`), boxes
cut around picks (:mod:`.boxes`) and their augmentation (:mod:`.augment`)."""
