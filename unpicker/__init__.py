"""emUnpicker: learn from a few hand-cleaned micrographs which autopicks to remove.

Data flow, one module a step: STAR/coordinates (:mod:`star`, :mod:`coords`,
:mod:`trainingset`) -> micrograph (:mod:`mrcio`, :mod:`ctf`) -> preprocessing
(:mod:`preprocess`) -> boxes (:mod:`boxes`) -> model (:mod:`model`, the only
TensorFlow/Keras code besides :mod:`train`) -> training / evaluation
(:mod:`train`, :mod:`evaluate`) -> outputs. Command-line front ends live in
:mod:`unpicker.commands`.
"""
__version__ = "0.1.0"
