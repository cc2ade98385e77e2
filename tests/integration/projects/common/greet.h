#ifdef __cplusplus
extern "C" {
#endif
const char *greet_machine(void);
int greet_add(int a, int b);
#ifdef __cplusplus
}
#endif
