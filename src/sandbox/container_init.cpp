#include "sandbox/container_init.h"
