/* Lets SwiftPM build include/ as the C module CSMIEngine, whose public header is smi_engine.h. */
#include "smi_engine.h"
