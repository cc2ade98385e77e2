/* Passes when SAMPLE_VALUE=42 is set and ./marker.txt (in WORKING_DIRECTORY) exists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  const char *value = getenv("SAMPLE_VALUE");
  FILE *marker = fopen("marker.txt", "r");
  printf("SAMPLE_VALUE=%s marker=%s\n", value ? value : "(unset)", marker ? "found" : "missing");
  return value && strcmp(value, "42") == 0 && marker ? 0 : 1;
}
