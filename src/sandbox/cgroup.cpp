#include "sandbox/cgroup.h"
