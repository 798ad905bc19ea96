/* Only carries the opencv4 pkg-config flags to COpenCVShim; Swift never imports OpenCV. */
