#ifndef SMI_CYAML_SHIM_H
#define SMI_CYAML_SHIM_H
#include <yaml.h>
#endif
