#include "sandbox/seccomp.h"
