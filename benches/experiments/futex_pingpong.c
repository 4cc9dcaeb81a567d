// Futex ping-pong against a pipe pair between two processes (docs/BENCHMARKS.md,
// "Sleeping at once on one core"). Build: gcc -O2 -o futex_pingpong futex_pingpong.c
// Run: ./futex_pingpong 1   (both on CPU 0; 2: the child on CPU 1); TO=1 ./futex_pingpong 1
// gives every FUTEX_WAIT a 100 ms timeout, as shmkit's sleepers have.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <time.h>
#include <sys/wait.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static struct timespec TO={0,100000000}; static long fx(atomic_int*a,int op,int v){return syscall(SYS_futex,a,op,v,(op==FUTEX_WAIT && getenv("TO"))?&TO:0,0,0);}
int main(int argc,char**argv){
  int cores=atoi(argv[1]); int N=200000;
  cpu_set_t s; CPU_ZERO(&s); CPU_SET(0,&s); sched_setaffinity(0,sizeof s,&s);
  // futex ping-pong
  atomic_int *w=mmap(0,4096,PROT_READ|PROT_WRITE,MAP_SHARED|MAP_ANONYMOUS,-1,0);
  w[0]=0;w[16]=0;
  pid_t k=fork();
  if(!k){ if(cores==2){CPU_ZERO(&s);CPU_SET(1,&s);sched_setaffinity(0,sizeof s,&s);}
    for(int i=0;i<N;i++){ while(atomic_load(&w[0])==2*i) fx(&w[0],FUTEX_WAIT,2*i); atomic_store(&w[16],2*i+2); fx(&w[16],FUTEX_WAKE,1);} _exit(0);}
  double t=now();
  for(int i=0;i<N;i++){ atomic_store(&w[0],2*i+2); fx(&w[0],FUTEX_WAKE,1); while(atomic_load(&w[16])==2*i) fx(&w[16],FUTEX_WAIT,2*i);}
  double f=(now()-t)/N*1e6; waitpid(k,0,0);
  int a[2],b[2]; pipe(a);pipe(b); char c=0;
  k=fork();
  if(!k){ if(cores==2){CPU_ZERO(&s);CPU_SET(1,&s);sched_setaffinity(0,sizeof s,&s);}
    for(int i=0;i<N;i++){read(a[0],&c,1);write(b[1],&c,1);} _exit(0);}
  t=now();
  for(int i=0;i<N;i++){write(a[1],&c,1);read(b[0],&c,1);}
  double p=(now()-t)/N*1e6; waitpid(k,0,0);
  printf("cores=%d futex %.3f us pipe %.3f us ratio %.2f\n",cores,f,p,p/f);
}
