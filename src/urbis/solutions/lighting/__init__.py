"""Smart street lighting: control programs, energy and savings, faults."""
