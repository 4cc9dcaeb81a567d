// A producer process copies 1 MiB messages into a pool of 4 buffers and passes their
// indices through a ring to a consumer process (docs/BENCHMARKS.md, "W3: the L2 is 2 MiB
// per core"). Buffer choice: 0 = in ring order, 1 = lowest free, 2 = the buffer written
// last if it comes back within 5 us, else lowest free. Second argument: 0 = the consumer
// reads the sequence number in place (one copy), 1 = it copies the message out.
// Build: gcc -O2 -o w3_pool w3_pool.c    Run: ./w3_pool 2 0
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <sys/mman.h>
#include <stdatomic.h>
#include <time.h>
#include <sys/wait.h>
#define SZ (1<<20)
#define NB 4
#define RING 8
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
struct ctl { _Alignas(64) atomic_uint state[NB]; _Alignas(64) atomic_ulong head; _Alignas(64) atomic_ulong tail; _Alignas(64) atomic_uint ring[RING]; };
static void pin(int c){cpu_set_t s;CPU_ZERO(&s);CPU_SET(c,&s);sched_setaffinity(0,sizeof s,&s);}
int main(int argc,char**argv){
  int lifo=atoi(argv[1]); int copyout=atoi(argv[2]); long N=4096;
  struct ctl*c=mmap(0,sizeof *c,PROT_READ|PROT_WRITE,MAP_SHARED|MAP_ANONYMOUS,-1,0);
  char*buf=mmap(0,(size_t)SZ*NB,PROT_READ|PROT_WRITE,MAP_SHARED|MAP_ANONYMOUS,-1,0); memset(buf,0,(size_t)SZ*NB);
  pid_t k=fork();
  if(!k){ pin(1); char*src=malloc(SZ); memset(src,7,SZ); unsigned rr=0;
    int last=-1;
    for(long i=0;i<N+8;i++){ int b=-1;
      if(lifo==2 && last>=0){ double w0=now(); while(now()-w0<5e-6){ unsigned z=0; if(atomic_load(&c->state[last])==0 && atomic_compare_exchange_strong(&c->state[last],&z,1)){b=last;break;} __builtin_ia32_pause(); } }
      for(;b<0;){ if(lifo){ for(int j=0;j<NB;j++){unsigned z=0; if(atomic_load(&c->state[j])==0 && atomic_compare_exchange_strong(&c->state[j],&z,1)){b=j;break;}} }
               else { int j=rr%NB; unsigned z=0; if(atomic_compare_exchange_strong(&c->state[j],&z,1)){b=j;rr++;} }
               if(b>=0)break;
               __builtin_ia32_pause(); }
      last=b; memcpy(buf+(size_t)b*SZ,src,SZ); *(long*)(buf+(size_t)b*SZ)=i;
      unsigned long t=atomic_load(&c->tail); while(t-atomic_load(&c->head)>=RING) __builtin_ia32_pause();
      atomic_store(&c->ring[t%RING],b); atomic_store(&c->tail,t+1);}
    _exit(0);}
  pin(0); char*dst=malloc(SZ); memset(dst,1,SZ); double t0=0;
  for(long i=0;i<N+8;i++){ if(i==8)t0=now();
    unsigned long h=atomic_load(&c->head); while(atomic_load(&c->tail)==h) __builtin_ia32_pause();
    int b=atomic_load(&c->ring[h%RING]);
    if(copyout) memcpy(dst,buf+(size_t)b*SZ,SZ); else if(*(volatile long*)(buf+(size_t)b*SZ)!=i) abort();
    atomic_store(&c->state[b],0); atomic_store(&c->head,h+1);}
  double g=(double)N*SZ/(now()-t0)/(1<<30); waitpid(k,0,0);
  char*s2=malloc(SZ),*d2=malloc(SZ); memset(s2,3,SZ); memset(d2,0,SZ); double t1=now(); for(int r=0;r<4096;r++){memcpy(d2,s2,SZ); asm volatile(""::"r"(d2):"memory");}
  double m=4096.0*SZ/(now()-t1)/(1<<30);
  printf("%s %s: %.1f GiB/s, memcpy %.1f, ratio %.2f\n",lifo==2?"hot-wait":lifo?"lowest-free":"ring-order",copyout?"copy in+out":"one copy",g,m,g/m);
}
