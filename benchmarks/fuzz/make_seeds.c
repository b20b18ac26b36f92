/* Writes the small seed files of the JPEG, PNG and Keras HDF5 harnesses into benchmarks/fuzz/corpus/
 * (committed; rerun only to change them):
 *   cc benchmarks/fuzz/make_seeds.c -I/usr/include/hdf5/serial -lturbojpeg -lpng16 -lhdf5_serial -o /tmp/make_seeds
 *   /tmp/make_seeds benchmarks/fuzz/corpus */
#include <hdf5.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

static void save(const char *dir, const char *name, const void *bytes, size_t size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, size, f) != size) { perror(path); exit(1); }
    fclose(f);
}

/* A w x h gradient with some structure, as RGB (or gray when channels == 1). */
static unsigned char *pixels(int w, int h, int channels) {
    unsigned char *p = malloc((size_t)w * h * channels);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++) p[(y * w + x) * channels + c] = (unsigned char)(x * 16 + y * 8 + c * 80 + (x ^ y) * 3);
    return p;
}

static void jpeg(const char *dir, const char *name, int w, int h, int pf, int subsamp, int flags, int orientation) {
    tjhandle t = tjInitCompress();
    unsigned char *src = pixels(w, h, tjPixelSize[pf]), *out = NULL;
    unsigned long size = 0;
    if (tjCompress2(t, src, w, 0, h, pf, &out, &size, subsamp, 75, flags) != 0) { fprintf(stderr, "%s\n", tjGetErrorStr2(t)); exit(1); }
    if (orientation) {
        /* APP1 "Exif\0\0" + little-endian TIFF with IFD0 holding only Orientation (0x0112, SHORT). */
        unsigned char app1[] = {0xFF, 0xE1, 0, 34, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
                                1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, (unsigned char)orientation, 0, 0, 0, 0, 0, 0, 0};
        unsigned char *with = malloc(size + sizeof app1);
        memcpy(with, out, 2);
        memcpy(with + 2, app1, sizeof app1);
        memcpy(with + 2 + sizeof app1, out + 2, size - 2);
        save(dir, name, with, size + sizeof app1);
        free(with);
    } else {
        save(dir, name, out, size);
    }
    tjFree(out);
    free(src);
    tjDestroy(t);
}

static void png(const char *dir, const char *name, int w, int h, png_uint_32 format) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = w;
    image.height = h;
    image.format = format;
    int channels = PNG_IMAGE_SAMPLE_CHANNELS(format), component = PNG_IMAGE_SAMPLE_COMPONENT_SIZE(format);
    unsigned char *src = pixels(w, h, channels * component);
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&image, NULL, &size, 0, src, 0, NULL)) { fprintf(stderr, "%s\n", image.message); exit(1); }
    unsigned char *out = malloc(size);
    if (!png_image_write_to_memory(&image, out, &size, 0, src, 0, NULL)) { fprintf(stderr, "%s\n", image.message); exit(1); }
    save(dir, name, out, size);
    free(out);
    free(src);
}

static void strings_attribute(hid_t object, const char *name, const char **values, hsize_t count) {
    hid_t type = H5Tcopy(H5T_C_S1);
    size_t longest = 1;
    for (hsize_t i = 0; i < count; i++) if (strlen(values[i]) > longest) longest = strlen(values[i]);
    H5Tset_size(type, longest);
    char *buffer = calloc(count, longest);
    for (hsize_t i = 0; i < count; i++) memcpy(buffer + i * longest, values[i], strlen(values[i]));
    hid_t space = H5Screate_simple(1, &count, NULL);
    hid_t attr = H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, type, buffer);
    H5Aclose(attr); H5Sclose(space); H5Tclose(type); free(buffer);
}

static void dataset(hid_t group, const char *name, int rank, const hsize_t *dims) {
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(group, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    float values[16];
    for (int i = 0; i < 16; i++) values[i] = (float)i / 4 - 1;
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    H5Dclose(d); H5Sclose(space);
}

static hid_t create(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);  /* the compact metadata of HDF5 1.10 */
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    return f;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: make_seeds CORPUS_DIR\n"); return 2; }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/jpeg", argv[1]);
    jpeg(dir, "baseline_420.jpg", 16, 8, TJPF_RGB, TJSAMP_420, 0, 0);
    jpeg(dir, "progressive_444_exif6.jpg", 8, 16, TJPF_RGB, TJSAMP_444, TJFLAG_PROGRESSIVE, 6);
    jpeg(dir, "gray_exif3.jpg", 8, 8, TJPF_GRAY, TJSAMP_GRAY, 0, 3);
    jpeg(dir, "cmyk.jpg", 8, 8, TJPF_CMYK, TJSAMP_444, 0, 0);
    snprintf(dir, sizeof dir, "%s/png", argv[1]);
    png(dir, "rgb.png", 8, 6, PNG_FORMAT_RGB);
    png(dir, "rgba.png", 6, 8, PNG_FORMAT_RGBA);
    png(dir, "gray16.png", 5, 5, PNG_FORMAT_LINEAR_Y);
    png(dir, "gray_alpha.png", 4, 4, PNG_FORMAT_GA);

    snprintf(dir, sizeof dir, "%s/keras_hdf5", argv[1]);
    /* Keras 2 weights-only: root `layer_names`, each layer's `weight_names`. */
    hid_t f = create(dir, "keras2_weights_only.h5");
    const char *layers[] = {"input_1", "conv", "dense"};
    strings_attribute(f, "layer_names", layers, 3);
    strings_attribute(f, "keras_version", (const char *[]){"2.2.4"}, 1);
    hid_t g = H5Gcreate2(f, "input_1", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    g = H5Gcreate2(f, "conv", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    strings_attribute(g, "weight_names", (const char *[]){"conv/kernel:0", "conv/bias:0"}, 2);
    hid_t inner = H5Gcreate2(g, "conv", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    dataset(inner, "kernel:0", 4, (hsize_t[]){1, 1, 2, 2});
    dataset(inner, "bias:0", 1, (hsize_t[]){2});
    H5Gclose(inner); H5Gclose(g);
    g = H5Gcreate2(f, "dense", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    strings_attribute(g, "weight_names", (const char *[]){"dense/kernel:0"}, 1);
    inner = H5Gcreate2(g, "dense", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    dataset(inner, "kernel:0", 2, (hsize_t[]){2, 3});
    H5Gclose(inner); H5Gclose(g); H5Fclose(f);

    /* Keras 3 `.weights.h5`: layers/<name>/vars/<i>, a nested model under layers/<model>/layers. */
    f = create(dir, "keras3.weights.h5");
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    g = H5Gcreate2(f, "layers/dense/vars", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    dataset(g, "0", 2, (hsize_t[]){2, 2});
    dataset(g, "1", 1, (hsize_t[]){2});
    H5Gclose(g);
    g = H5Gcreate2(f, "layers/base/layers/depthwise/vars", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    dataset(g, "0", 4, (hsize_t[]){3, 3, 1, 1});
    H5Gclose(g); H5Pclose(lcpl); H5Fclose(f);
    return 0;
}
