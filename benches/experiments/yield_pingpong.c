// Two processes pinned to CPU 0 bounce a word, spinning N turns before each sched_yield
// (docs/BENCHMARKS.md, "Sharing a CPU"). Build: gcc -O2 -o yield_pingpong yield_pingpong.c
// Run: ./yield_pingpong 0   (yield at once); ./yield_pingpong 64
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sched.h>
#include <sys/mman.h>
#include <stdatomic.h>
#include <time.h>
#include <sys/wait.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  int spins=atoi(argv[1]); int N=200000;
  cpu_set_t s; CPU_ZERO(&s); CPU_SET(0,&s); sched_setaffinity(0,sizeof s,&s);
  atomic_long *w=mmap(0,4096,PROT_READ|PROT_WRITE,MAP_SHARED|MAP_ANONYMOUS,-1,0);
  pid_t k=fork();
  if(!k){ for(long i=0;i<N;i++){ int c=0; while(atomic_load(&w[0])!=2*i+1){ if(++c>spins){sched_yield();c=0;} else __builtin_ia32_pause();} atomic_store(&w[0],2*i+2);} _exit(0);}
  double t=now();
  for(long i=0;i<N;i++){ atomic_store(&w[0],2*i+1); int c=0; while(atomic_load(&w[0])!=2*i+2){ if(++c>spins){sched_yield();c=0;} else __builtin_ia32_pause();}}
  printf("spins=%d yield pingpong %.3f us\n",spins,(now()-t)/N*1e6); waitpid(k,0,0);
}
