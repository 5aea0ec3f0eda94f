dnl One RD_PLUGIN line per in-tree plugin: name, shell-safe name, dependency
dnl test, and what is missing when the test fails. The in-tree plugins only
dnl use libraries the daemon requires anyway, so most tests are 'true'.
RD_PLUGIN([s3], [s3], [true], [])
RD_PLUGIN([github], [github], [true], [])
RD_PLUGIN([bitbucket], [bitbucket], [true], [])
RD_PLUGIN([http], [http], [true], [])
RD_PLUGIN([onprem], [onprem], [true], [])
RD_PLUGIN([haproxy], [haproxy], [true], [])
RD_PLUGIN([http-check], [http_check], [true], [])
RD_PLUGIN([prometheus], [prometheus], [true], [])
RD_PLUGIN([cloudwatch], [cloudwatch], [true], [])
RD_PLUGIN([lambda], [lambda], [true], [])
RD_PLUGIN([ec2], [ec2], [true], [])
RD_PLUGIN([ecs], [ecs], [true], [])
RD_PLUGIN([elb], [elb], [true], [])
