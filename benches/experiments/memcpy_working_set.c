// memcpy of 1 MiB from one source into 1, 2 or 4 MAP_SHARED buffers in turn, three ways
// (docs/BENCHMARKS.md, "W3: the L2 is 2 MiB per core").
// Build: gcc -O2 -march=native -o memcpy_working_set memcpy_working_set.c
// Run: taskset -c 1 ./memcpy_working_set
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <immintrin.h>
#include <sys/mman.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define SZ (1<<20)
static void movsb(void*d,const void*s,size_t n){asm volatile("rep movsb":"+D"(d),"+S"(s),"+c"(n)::"memory");}
static void pfw(char*d,const char*s,size_t n){ for(size_t o=0;o<n;o+=4096){ for(int k=0;k<4096;k+=64) _mm_prefetch(d+o+4096*2+k,_MM_HINT_ET0); memcpy(d+o,s+o,4096);} }
int main(){
  char*src=malloc(SZ); memset(src,1,SZ);
  for(int nb=1;nb<=4;nb*=2){
    char*d[4]; for(int i=0;i<nb;i++){d[i]=mmap(0,SZ+8192*4,PROT_READ|PROT_WRITE,MAP_SHARED|MAP_ANONYMOUS,-1,0); memset(d[i],0,SZ+8192*4);}
    int reps=4096;
    for(int m=0;m<3;m++){ double best=0; for(int r=0;r<3;r++){ double t=now();
      for(int i=0;i<reps;i++){ char*x=d[i%nb]; if(m==0)memcpy(x,src,SZ); else if(m==1) movsb(x,src,SZ); else pfw(x,src,SZ); asm volatile(""::"r"(x):"memory");}
      double g=(double)reps*SZ/(now()-t)/(1<<30); if(g>best)best=g;}
      printf("bufs=%d %s %.1f GiB/s\n",nb,m==0?"memcpy":m==1?"movsb":"prefetchw",best);}
  }
}
